"""The reasons methods: how a score's top factors are attributed (names only, no imports)."""

REASONS_SHAP = "shap"  # exact TreeSHAP (LightGBM pred_contrib)
REASONS_PATH = "path"  # tree-path (Saabas) attribution: about the cost of one predict
