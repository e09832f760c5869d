"""The ``/auth`` resource: staff sign-in and accounts (loan answers it; every service checks the tokens)."""
