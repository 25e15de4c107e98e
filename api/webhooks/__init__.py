"""Webhooks (Standard Webhooks): subscriptions, an outbox tracked like a projection, delivery."""
