"""The networks the structures own: the MLP, gradient networks, a partially monotone network."""
