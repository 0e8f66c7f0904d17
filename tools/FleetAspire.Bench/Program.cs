using FleetAspire.Bench;

// Benchmarks print figures; they never pass or fail. Each compares the product with a floor measured in the same
// run on the same database server, and ends with one machine-readable line.
//   dotnet run -c Release --project tools/FleetAspire.Bench -- claims --clients 32 --ops 5000
var command = args.FirstOrDefault();
var options = BenchOptions.Parse(args.Skip(1).ToArray());
return command switch
{
    "claims" => await ClaimsBenchmark.RunAsync(options),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: FleetAspire.Bench claims [--clients N] [--ops N]");
    return 2;
}
