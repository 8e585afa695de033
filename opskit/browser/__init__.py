"""Playwright sessions for any site: sign-in recipes, selectors by name, downloads, failure artifacts.

Tasks reach it through ``ctx.browser(source)``; this package is imported only when a task asks for a
browser, so ``runner.py list`` never loads Playwright.
"""
