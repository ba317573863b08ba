using Interconnect.Testing;

namespace Interconnect.Cluster.Tests;

/// <summary>Where namespaces cannot be made, the helper says why (and the tests skip with that reason).</summary>
public sealed class AvailabilityTests
{
    [Test]
    [Category(DotnetProcess.AsAnotherUser)]
    [CancelAfter(60_000)]
    public void ShouldSayThatRootIsNeededWhenRunAsAnotherUser(CancellationToken cancellation)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Assert.Ignore("runs the helper as nobody, which needs root (setpriv)");
        }

        var info = DotnetProcess.StartInfo(Path.Combine(AppContext.BaseDirectory, "Interconnect.Machines.dll"), "nobody");
        info.ArgumentList.Add("hold");
        info.ArgumentList.Add("1");
        using var helper = System.Diagnostics.Process.Start(info)!;
        var answer = Lines.Next(helper, TimeSpan.FromSeconds(30), cancellation);
        Assert.That(helper.WaitForExit(30_000), Is.True, "the helper ended");

        Assert.Multiple(() =>
        {
            Assert.That(answer, Does.StartWith("unavailable: ").And.Contain("need root"));
            Assert.That(helper.ExitCode, Is.EqualTo(3));
        });
    }
}
