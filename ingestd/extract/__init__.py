"""Article pages to text: trafilatura (:mod:`.article`) and page metadata (:mod:`.pagemeta`)."""
