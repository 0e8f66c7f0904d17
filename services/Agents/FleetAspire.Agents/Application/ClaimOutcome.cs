namespace FleetAspire.Agents.Application;

public enum ClaimOutcome
{
    Claimed,
    AgentNotFound,
    AgentHasMachine,
    PoolEmpty,
}
