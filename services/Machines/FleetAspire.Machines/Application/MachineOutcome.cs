namespace FleetAspire.Machines.Application;

public enum MachineOutcome
{
    Ok,
    NotFound,
    AgentNotFound,
    Duplicate,
    MachineInUse,
    AgentBusy,
    NotAssigned,
}
