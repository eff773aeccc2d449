"""The protocol truth: TCP connection termination as RFC 9293 specifies it.

Pure: no I/O, no wall clock, no Jupyter. Time and the network are inputs.
"""
