"""Lending arithmetic shared by the services that compute or show money: decision, property, notify.

Pure functions over ``Decimal`` with no I/O, so the offer, the valuation limits and the schedule
document agree to the cent.
"""
