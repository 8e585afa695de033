"""config.yaml: reading its text (``file``) and the validated settings of every section (``model``)."""
