using FleetAspire.Data.Entities;

namespace FleetAspire.Data.Writes;

/// <summary>A pool claim as its statement returned it: the agent after the claim and the machine it now holds.</summary>
public sealed record ClaimedRow(Agent Agent, HeldMachine Machine);
