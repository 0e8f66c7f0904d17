namespace FleetAspire.Data.Writes;

/// <summary>
/// Runs a write against the storage of one aggregate. The steady state has one storage (Machine); while the machine
/// migration runs, <c>MachineTransition/Modes/PlannedWrites</c> stands in and picks legacy or Machine per phase.
/// </summary>
public interface IWrites<TStorage> where TStorage : class
{
    Task<T> RunAsync<T>(Func<TStorage, Task<T>> write);
}
