"""Secure prescriptions (*ordonnances sécurisées*) and dispensations against them."""
