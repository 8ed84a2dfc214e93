"""The administrator's desk: workbooks in (agencies, people) and out (invitations, progress,
answers, the questionnaire), shared by the `phieu agencies|invite|progress|export|forms`
commands."""
