"""Outreach: customers and purchases, interactions, sends and personal invitations by email
and SMS, reminders, the fatigue rule, unsubscribes and delivery receipts."""
