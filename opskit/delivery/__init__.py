"""Delivery: ONE pipeline from a finished run to messages: gates -> report/notice/alert email -> outbox -> SMTP,
plus chat.

The engine calls ``pipeline.after_run`` (and the daemon ``pipeline.send_pending_mail``); nothing else here is
an entry point. Each module has one role, and imports flow one way, top to bottom: a module imports only
modules listed below it, never one above it (``tests/delivery/test_layers.py`` checks this), and none
imports ``opskit.engine`` at run time.

- ``pipeline``: decides what goes out after a run, and records it;
- ``gates``: judges a run's result against the job's gates;
- ``report``: the report email's content from ``Result.summary`` (the summary convention);
- ``sections``: a summary's sections by report kind (comparison, status, ingestion, plan,
  reconciliation), checked, and the one "worst first" rule;
- ``alerts``: the failure alert email and the chat post;
- ``compose``: one message: render, build, save to the outbox, send;
- ``render``: Jinja2 templates, filters, CSS inlining, HTML to PDF;
- ``formats``: how each kind of number reads (``fmt``, ``pair``) and changes by direction (``delta``);
- ``charts``: trend charts as PNG;
- ``smtp``: sends the outbox's pending messages;
- ``outbox``: the .eml files and their index;
- ``mail``: MIME message building;
- ``chat``: Slack, Lark and Teams webhooks;
- ``record``: the delivery record (``DeliveryLog``) and the secrets kept out of it.

The settings these follow are config.yaml's, in ``opskit.config`` (``email``, ``chat``, ``gates``).
"""
