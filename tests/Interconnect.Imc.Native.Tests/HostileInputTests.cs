namespace Interconnect.Imc.Native.Tests;

/// <summary>Hostile input at the C boundary returns status codes and never crashes (c/imc_hostile.c checks each).</summary>
public sealed class HostileInputTests : NativeTest
{
    [Test]
    public void ShouldReturnAStatusForEveryBadArgumentAndNeverCrash()
    {
        var program = Start("tests/Interconnect.Imc.Native.Tests/c/imc_hostile.c", "alpha");

        var exit = program.WaitForExit();

        Assert.That(program.Lines.Where(l => l.StartsWith("FAIL", StringComparison.Ordinal)), Is.Empty, program.Transcript);
        Assert.That(exit, Is.Zero, program.Transcript);
        Assert.That(program.Lines, Has.Some.EqualTo("0 failure(s)"), program.Transcript);
        Assert.That(program.Lines.Count(l => l.StartsWith("ok ", StringComparison.Ordinal)), Is.GreaterThan(90), program.Transcript);
    }
}
