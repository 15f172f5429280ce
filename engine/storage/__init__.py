"""Where results and support artifacts are kept: the local or object store (``store``, ``object_store``) and atomic writes."""
