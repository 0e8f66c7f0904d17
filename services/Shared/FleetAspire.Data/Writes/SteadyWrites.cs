namespace FleetAspire.Data.Writes;

/// <summary>The steady state: the one storage, as registered.</summary>
public sealed class SteadyWrites<TStorage>(TStorage storage) : IWrites<TStorage> where TStorage : class
{
    public Task<T> RunAsync<T>(Func<TStorage, Task<T>> write) => write(storage);
}
