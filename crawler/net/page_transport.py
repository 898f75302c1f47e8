"""Which transport a page takes: the browser for a page to render, the fetcher for the rest."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from crawler.core.outgoing import Outgoing
from crawler.core.request import Visit
from crawler.core.response import Response
from crawler.net.fetch import Fetcher
from crawler.net.proxies import Proxy
from crawler.net.render import NotHTML, Renderer
from crawler.sinks.pages import PageStore

if TYPE_CHECKING:
    from yarl import URL

    from crawler.net.identities import Identities, Identity


async def fetch_or_render(
    url: URL,
    pages: PageStore | None,
    proxy: Proxy | None,
    extra: Outgoing | None,
    *,
    fetcher: Fetcher,
    renderer: Renderer | None,
    render: bool,
    previous: Visit | None = None,
    identity: Identity | None = None,
    identities: Identities | None = None,
) -> Response:
    """A page to ``render`` goes to the browser (the second transport), unless it turns out not
    to be HTML (a PDF, an image, JSON: the browser would only wrap it); everything else is
    fetched over HTTP. Both go as ``identity``: its proxy, and a ban or a blocked page retires it
    (the browser keeps its own cookies). ``Response.rendered`` says which made it."""
    if renderer is not None and render:
        try:
            if identity is None or identities is None:
                return await renderer.fetch(url, pages, proxy, extra)
            return await identities.rendered(identity, partial(renderer.fetch, url, pages, proxy, extra))
        except NotHTML:
            pass
    if identity is None or identities is None:
        return await fetcher.fetch(url, pages, proxy, extra, previous)
    return await identities.fetch(identity, url, partial(fetcher.fetch, url, pages, proxy, extra, previous, identity))
