using FleetAspire.Data.Entities;

namespace FleetAspire.Data.Writes;

/// <summary>
/// A pool claim as its statement returned it: the agent after the claim, the machine it now holds and the port its
/// agent listens on — all the response needs, so nothing is read back.
/// </summary>
public sealed record ClaimedRow(Agent Agent, HeldMachine Machine, int Port = Machine.DefaultPort);
