"""The channel's page (issue 20): a public, opt-in web archive and Atom feed of one channel's digests.

`publishing` turns a channel's page on and off (its URL carries a token only the admin is shown); `archive` reads
what the pages show from the database; `render` and `feed` turn that into HTML (Jinja2, autoescaped) and Atom;
`server` serves it with aiohttp; `export` writes the same files to a folder. Nothing here imports a platform library.
"""
