"""Sign-in sessions kept on the server, so that signing out (or a password change, or a
deactivation) ends them for every copy of the cookie."""
