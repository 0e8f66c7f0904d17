namespace FleetAspire.Agents.Application;

public enum ReleaseOutcome
{
    Released,
    AgentNotFound,
    NoMachine,
    AgentDeleting,
}
