namespace Interconnect.Cluster.Tests.AcrossMachines;

/// <summary>
/// Two machines that a fixture's tests share, host alpha up on the first and beta on the second (the manual's two
/// hosts). A test that fails shows the agents' output.
/// </summary>
public abstract class AlphaBetaFixture
{
    /// <summary>The two machines, with an imcd each.</summary>
    protected ImcMachines Imc { get; private set; } = null!;

    [OneTimeSetUp]
    public void StartMachines()
    {
        Imc = ImcMachines.Start(2);
        ImcMachines.InitHost(Imc[0], "alpha");
        ImcMachines.InitHost(Imc[1], "beta");
    }

    [OneTimeTearDown]
    public void StopMachines() => Imc?.Dispose();

    [TearDown]
    public void ShowAgentsWhenFailed()
    {
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed)
        {
            TestContext.Out.WriteLine(Imc.AgentOutput());
        }
    }
}
