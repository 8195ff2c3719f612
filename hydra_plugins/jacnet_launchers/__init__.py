"""jacnet's Hydra launchers: Hydra instantiates launchers from the `hydra_plugins` package only."""
