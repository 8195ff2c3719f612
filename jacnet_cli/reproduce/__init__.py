"""`make reproduce`: the paper's figures and tables (`paper`) and the GradNets table (`gradnets`)."""
