"""The book: pages (experiments), the papermill runner, the first page, the browser check, the zip,
the zoo-size study's command."""
