using FleetAspire.Data.MachineTransition.Contract;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FleetAspire.Migration.Apis;

/// <summary>The contract set's progress, step by step.</summary>
public static class ContractApi
{
    public static RouteGroupBuilder MapContractApi(this RouteGroupBuilder api)
    {
        api.MapGet("/contract", Steps).WithName("ContractSteps")
            .WithSummary("The contract set's steps: owed from the flip to Contracted, applied one by one by the control service");
        return api;
    }

    public static async Task<Ok<IReadOnlyList<ContractStepState>>> Steps(ContractRunner contract, CancellationToken cancellationToken) =>
        TypedResults.Ok(await contract.StatusAsync(cancellationToken));
}
