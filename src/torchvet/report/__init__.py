"""Report formats shared by torchvet commands."""
