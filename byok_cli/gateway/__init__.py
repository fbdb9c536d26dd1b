"""The local gateway: other programs reach the providers through byok with a client token,
and never hold a key.

    tokens.py       client tokens: made, stored as a digest, checked in constant time
    exchange.py     what the gateway understands of a request and its answer (no HTTP
                    library): which paths are policed, the usage in an answer, error shapes
    passthrough.py  one client request forwarded upstream under routing's policy (aiohttp)
    answers.py      an upstream answer read within wire's limits (inflated, whole), and
                    a policed stream's bound on waiting for progress (IdleWatch)
    deltas.py       a policed stream's delta strings masked across events (every one a
                    client joins), its events bounded
    server.py       the HTTP side: loopback, Host/Origin checks, tokens, limits, shutdown
    connection.py   one client connection: a deadline on every request head, 431/400 in
                    the API's shape for a head aiohttp refuses (aiohttp)
    reads.py        the store's per-request reads kept between changes (data_version)
    usage_log.py    the gateway's writes, off the event loop: a writer thread commits
                    the usage rows queued, each before its answer's end leaves
    child.py        `byok exec --gateway`: a gateway and a one-run token for one program

It sits above `routing` (key order, fallbacks, budgets: `routing.policy`) and beside
`handoff`/`api`. Only `server`, `connection` and `passthrough` import aiohttp, and only
`byok gateway` and `byok exec --gateway` import them.
"""
