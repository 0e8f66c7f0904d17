using FleetAspire.Messaging;
using FleetAspire.Machines;
using FleetAspire.Machines.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseServiceDefaults();
app.MapCustomMachinesApi();
app.MapHeartbeatsApi();
app.MapMachinesApi();
app.MapOutboxApi();

app.Run();
