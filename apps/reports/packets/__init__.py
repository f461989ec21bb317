"""Sign-off packets and the metrics summary report: signed PDFs the portal renders and keeps.

- render.py: what a packet shows (packet_context) and the signed PDF (render_pdf, html_to_pdf)
- fetcher.py: WeasyPrint's URL fetcher, which fetches nothing
- launch_day.py: the packet's "Launch day" section (rollout runs and reading summaries)
- store.py: a packet stored once by SHA-256 and audited (build_packet, current_packet, open_packet)
- jobs.py: packets asked for by people or by a launch becoming ready, built by a task
- summary_report.py: the metrics summary report issued when a launch is closed

Imports nothing of apps.reports.exports: an export carries a packet, never the reverse.
"""
