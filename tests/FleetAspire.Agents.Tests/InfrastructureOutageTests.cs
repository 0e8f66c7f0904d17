using FleetAspire.ServiceDefaults.Errors;
using Npgsql;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace FleetAspire.Agents.Tests;

/// <summary>Which failures are outages (503 + Retry-After) and which are bugs (500): pure classification.</summary>
public sealed class InfrastructureOutageTests
{
    [Theory]
    [InlineData("57014")] // a statement cancelled by its timeout
    [InlineData("25006")] // a read-only server: a replica, or a failover under way
    [InlineData("53100")] // disk full
    [InlineData("53200")] // out of memory
    [InlineData("53300")] // too many connections
    [InlineData("57P04")] // database dropped
    [InlineData("57P01")] // admin shutdown
    [InlineData("55P03")] // a lock not granted in time
    [InlineData("40001")] // serialization failure
    [InlineData("08006")] // connection failure
    public void Database_states_that_retrying_fixes_are_outages(string sqlState) =>
        Assert.True(InfrastructureUnavailableExceptionHandler.IsInfrastructureOutage(new PostgresException("x", "ERROR", "ERROR", sqlState)));

    [Theory]
    [InlineData("23505")] // a unique violation is an answer (409), not an outage
    [InlineData("42P01")] // a missing table is a bug
    public void Other_database_states_are_not(string sqlState) =>
        Assert.False(InfrastructureUnavailableExceptionHandler.IsInfrastructureOutage(new PostgresException("x", "ERROR", "ERROR", sqlState)));

    [Fact]
    public void The_cloud_clients_timeout_and_open_circuit_are_outages_wrapped_or_not()
    {
        Assert.True(InfrastructureUnavailableExceptionHandler.IsInfrastructureOutage(new TimeoutRejectedException("slow provider")));
        Assert.True(InfrastructureUnavailableExceptionHandler.IsInfrastructureOutage(new BrokenCircuitException("open")));
        Assert.True(InfrastructureUnavailableExceptionHandler.IsInfrastructureOutage(new IsolatedCircuitException("isolated")));
        Assert.True(InfrastructureUnavailableExceptionHandler.IsInfrastructureOutage(new InvalidOperationException("wrapped", new TimeoutRejectedException())));
        Assert.False(InfrastructureUnavailableExceptionHandler.IsInfrastructureOutage(new InvalidOperationException("a bug")));
    }
}
