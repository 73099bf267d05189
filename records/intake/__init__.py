"""Intake: text out of what arrives on paper, by fax and by e-mail.

``extract`` (text of PDF, DOCX, HTML and plain text; page images of scans), ``ocr`` (the
recognition engine behind a small seam, deskew and orientation, images in memory only),
``mail`` (.eml, mbox and Maildir parsing in the right character set), ``operations`` (the
services: queue and run extraction, offer recognised text, import e-mail). Importing the
package registers nothing; the composition root wires the job handler and the hook."""
