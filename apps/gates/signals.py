"""What the gates app tells the apps above it, so that it calls none of them: sent inside the
writer's transaction with Signal.send() (a receiver's exception reaches the writer and rolls the
write back, as a direct call would), and connected in the receiving app's AppConfig.ready()
(apps/signoffs/apps.py)."""

from django.dispatch import Signal

# A gate's status changed to neither passing nor waived (a reading, a revoked waiver), with
# `gate`, `status`, `reason`, `now` and `actor`: the approvals covering it no longer hold.
status_left_passing = Signal()

# `user` produced the gate's current evidence (`what`: "an attestation"), with `gate`, `now` and
# `actor`: their own approvals over it no longer hold (separation of duties).
evidence_produced = Signal()
