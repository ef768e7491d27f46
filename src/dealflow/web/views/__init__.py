"""HTML views, one module per area (board, deals, leads, account, ...)."""
