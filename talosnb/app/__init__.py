"""The application layer: one user's session over the inputs, and the Workspace that carries
every rule about what is refused and what is written, shared by the CLI and the widgets."""
