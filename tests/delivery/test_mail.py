from __future__ import annotations

import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest
from pydantic import ValidationError

from opskit.config.email import EmailSettings, JobEmail, parse_address
from opskit.delivery.mail import InlineImage, build_message, build_message_ex, envelope_recipients
from opskit.errors import ConfigError, TaskError

NOW = datetime(2026, 11, 16, 7, 2, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\nfake"


def parse(message):
    return BytesParser(policy=policy.default).parsebytes(message.as_bytes())


def simple(**kw):
    values = dict(
        sender="Ops Reports <reports@example.com>",
        to=["Lead <lead@example.com>"],
        subject="Weekly W46",
        text="plain body",
        html="<html><body><p>html body</p></body></html>",
        now=NOW,
    )
    values.update(kw)
    return build_message(**values)


@pytest.mark.parametrize(
    "text",
    [
        "lead@example.com",
        "Lead Name <lead@example.com>",
        '"Doe, Jane" <jane.doe+ops@mail.example.co.uk>',
        "ops@localhost",
    ],
)
def test_parse_address_accepts_usual_forms(text):
    assert parse_address(text).addr_spec.count("@") == 1


@pytest.mark.parametrize(
    "text",
    [
        "bob@",
        "@example.com",
        "bob",
        "bob@example",
        "a@b.com, c@d.com",
        "Bob <bob@@x.com>",
        "bob..x@example.com",
        "",
        "bob@example.com\nBcc: evil@x.com",
    ],
)
def test_parse_address_rejects_malformed_and_names_it(text):
    with pytest.raises(ConfigError, match="is not an email address. use name@example.com"):
        parse_address(text)


def test_job_email_names_the_bad_recipient():
    with pytest.raises(ValidationError) as info:
        JobEmail(to=["lead@example.com"], cc=["ops-team@"], subject="x")
    error = info.value.errors()[0]
    assert error["loc"] == ("cc",)
    assert "'ops-team@' is not an email address" in error["msg"]


def test_job_email_rejects_unknown_keys_and_bad_subject_and_template():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        JobEmail(to=["a@example.com"], recipients=["b@example.com"])
    with pytest.raises(ValidationError, match=r"subject 'Report \{\{ period' is not a valid template"):
        JobEmail(to=["a@example.com"], subject="Report {{ period")
    with pytest.raises(ValidationError, match="template 'email/report.txt' should be an .html email template"):
        JobEmail(to=["a@example.com"], template="email/report.txt")
    with pytest.raises(ValidationError, match="at least 1 item"):
        JobEmail(to=[])


def test_job_email_defaults():
    job = JobEmail(to=["a@example.com"])
    assert (job.on, job.attach, job.template, job.cc, job.bcc) == (["success"], [], "email/report.html", [], [])


def test_email_settings_validate():
    assert EmailSettings().backend == "outbox"
    with pytest.raises(ValidationError, match="Input should be 'starttls', 'tls' or 'none'"):
        EmailSettings(security="ssl")
    with pytest.raises(ValidationError, match="set both username_env and password_env, or neither"):
        EmailSettings(username_env="SMTP_USER")
    with pytest.raises(ValidationError, match="'opskit' is not an email address"):
        EmailSettings(sender="opskit")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        EmailSettings(password="hunter2")


def test_message_headers_and_structure():
    msg = parse(simple(cc=["cc@example.com"], inline_images=[InlineImage("trend@opskit", PNG)]))
    assert msg["From"] == "Ops Reports <reports@example.com>"
    assert msg["To"] == "Lead <lead@example.com>"
    assert msg["Cc"] == "cc@example.com"
    assert msg["Subject"] == "Weekly W46"
    assert msg["Date"] == "Mon, 16 Nov 2026 07:02:00 +0000"
    assert msg["Message-ID"].endswith("@example.com>")
    assert "Bcc" not in msg
    assert msg.get_content_type() == "multipart/alternative"
    text, related = msg.get_payload()
    assert text.get_content_type() == "text/plain" and text.get_content() == "plain body\n"
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert "html body" in html.get_content()
    assert image["Content-ID"] == "<trend@opskit>" and image.get_content() == PNG


def test_message_ids_are_unique():
    assert simple()["Message-ID"] != simple()["Message-ID"]


def test_non_ascii_attachment_name_is_rfc2231_encoded(workbook):
    raw = simple(attachments=[workbook]).as_bytes()
    assert b"filename*=utf-8''Wochenbericht_Gr%C3%B6%C3%9Fe_%E5%91%A8%E6%8A%A5.xlsx" in raw
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert msg.get_content_type() == "multipart/mixed"
    (att,) = list(msg.iter_attachments())
    assert att.get_filename() == "Wochenbericht_Größe_周报.xlsx"
    # the name= fallback for clients that do not read RFC 2231 (Outlook): an RFC 2047 encoded word
    from email.header import decode_header, make_header

    fallback = re.search(rb'; *\r?\n? name="((?:=\?utf-8\?b\?[A-Za-z0-9+/=]+\?=\s*)+)"', raw)
    assert fallback, raw[:2000]
    assert str(make_header(decode_header(fallback.group(1).decode()))) == "Wochenbericht_Größe_周报.xlsx"
    assert att.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert att.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert att.get_content() == workbook.read_bytes()


def test_subject_with_line_breaks_cannot_inject_headers():
    msg = parse(simple(subject="W46\r\nBcc: evil@example.com"))
    assert msg["Subject"] == "W46 Bcc: evil@example.com"
    assert "Bcc" not in msg


def test_missing_attachment_is_an_error(tmp_path):
    with pytest.raises(TaskError, match=r"attachment .*missing\.xlsx does not exist"):
        simple(attachments=[tmp_path / "missing.xlsx"])


def test_naive_now_is_refused():
    with pytest.raises(TaskError, match="`now` must be an aware datetime"):
        simple(now=datetime(2026, 11, 16))


def test_envelope_has_to_cc_and_bcc_once():
    msg = simple(to=["A <a@example.com>", "b@example.com"], cc=["b@example.com", "c@example.com"])
    assert envelope_recipients(msg, ["Secret <d@example.com>", "a@example.com"]) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
    ]


def test_oversized_message_links_attachments_from_the_shared_folder(workbook, tmp_path):
    shared = tmp_path / "share"
    built = build_message_ex(
        sender="reports@example.com",
        to=["lead@example.com"],
        subject="s",
        text="body\n",
        html="<html><body><p>report</p></body></html>",
        attachments=[workbook],
        now=NOW,
        max_bytes=3000,
        shared_folder=shared,
        shared_folder_url="https://files.example.com/ops",
        shared_subdir="weekly_emea/run-1",
    )
    msg = parse(built.message)
    assert list(msg.iter_attachments()) == []
    copied = shared / "weekly_emea" / "run-1" / workbook.name
    assert copied.read_bytes() == workbook.read_bytes()
    assert [f.path for f in built.linked] == [copied]
    url = "https://files.example.com/ops/weekly_emea/run-1/Wochenbericht_Gr%C3%B6%C3%9Fe_%E5%91%A8%E6%8A%A5.xlsx"
    text = msg.get_body(("plain",)).get_content()
    assert text.startswith("The attachments were too large for email (limit 0.0 MB)")
    assert url in text and text.endswith("body\n")
    html = msg.get_body(("html",)).get_content()
    assert f'href="{url}"' in html and "too large for email" in html
    assert len(built.message.as_bytes()) <= 3000


def test_oversized_message_without_shared_folder_is_a_config_error(workbook):
    with pytest.raises(ConfigError, match="over email.max_message_bytes .* and no email.shared_folder is set"):
        simple(attachments=[workbook], max_bytes=2000)


def test_message_too_big_even_without_attachments(tmp_path):
    with pytest.raises(TaskError, match="without attachments, over the 0.0 MB limit"):
        simple(text="x" * 5000, max_bytes=1000)
