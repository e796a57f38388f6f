"""Risk-of-bias tools (RoB 2, ROBINS-I, QUADAS-2, Newcastle-Ottawa), their algorithms and figures."""
