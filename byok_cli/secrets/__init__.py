"""Everything that touches key material: the AES-GCM envelope (``vault``), where the master
key comes from (``master_keys``), a profile's provider keys, stored and from the
environment (``keychain``), and no core dumps (``hardening``).

May import ``errors``, ``inputs``, ``registry`` and ``store``; never ``catalog``, ``routing`` or
``cli``. (Imports are absolute, so ``import secrets`` in here is still the standard library's.)
"""
