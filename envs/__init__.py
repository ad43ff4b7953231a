"""MuJoCo tasks and their scripted experts; importing registers the env ids."""
