"""Who the staff are and what each may do: roles, password hashing, signed staff tokens.

Plain Python (no Flask, no database): ``roles`` says which role may do what, ``passwords``
hashes and checks passwords with argon2id, ``staff_tokens`` issues and reads the short-lived
signed tokens every service checks by itself. Accounts are stored by loan_app
(``loan_app/accounts``), which answers ``POST /auth/token``; no other service ever asks it
anything: a token carries the username and the role, signed.
"""
