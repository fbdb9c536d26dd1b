"""Deciding and carrying out a request: what a model name means (``addressing``), which
provider, model and key in what order (``resolve``, pure), which key may go to which endpoint
(``routes``), the plan carried out with its fallbacks (``runner``), a turn in a conversation
(``ask``), which attempts can carry a request's attachments (``attached``), and budgets
reserved and settled (``budget``).

May import every package below it (``catalog``, ``secrets``, ``wire``, ``store``) and the
foundation modules; never ``cli``.
"""
