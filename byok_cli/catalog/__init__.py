"""What models there are and what they cost: the curated catalogue (``curated``), the price
data and its snapshot (``prices``), LiteLLM's price map reduced to ours (``source``),
``byok models sync`` (``sync``), and the cache of providers' own model lists (``model_lists``).

May import ``errors``, ``urls``, ``store`` and ``wire``; never ``secrets``, ``routing`` or ``cli``.
"""
