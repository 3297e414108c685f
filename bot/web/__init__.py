"""The channel's page (issue 20): a public, opt-in web archive and Atom feed of one channel's digests.

Turning a channel's page on and off is a use case (`bot.app.publishing`; the URL carries a token only the admin
is shown). Here, the way in over HTTP, with the runtime's rights (it may import every layer): `archive` reads
what the pages show from the database; `render` and `feed` turn that into HTML (Jinja2, autoescaped) and Atom;
`server` serves it with aiohttp; `export` writes the same files to a folder. Nothing here imports a platform library.
"""
