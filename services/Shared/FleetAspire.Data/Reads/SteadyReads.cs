namespace FleetAspire.Data.Reads;

/// <summary>The steady state: the one storage, as registered.</summary>
public sealed class SteadyReads<TReads>(TReads reads) : IReads<TReads> where TReads : class
{
    public Task<TReads> CurrentAsync() => Task.FromResult(reads);

    public Task ServedAsync(string entity, IReadOnlyCollection<string> ids) => Task.CompletedTask;
}
