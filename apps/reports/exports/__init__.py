"""The evidence export: one signed ZIP an auditor can check without trusting the portal.

- archive.py: the ZIP writer (CSV tables, audit log, evidence files, signed manifest.json)
- rollout_csv.py: the launch day's rollout runs, readings and hook calls as CSV rows
- controls.py: the SOC2 mapping, for controls.csv and the controls page
- verify_script.py: the standalone checker copied into every export as verify.py
- jobs.py: the export as an audited action, streamed now or built by a task

Builds on apps.reports.packets (the export's packet.pdf); packets never import exports.
"""
