# Which PowerShell may carry PowerShell Direct (issue 20). No Windows PowerShell 5.1 and no pwsh
# older than 7.6 can run on this project's machines (none is on its package list), so the refusal
# (PowerShellVersionUnsupported) is tested here as the pure decision it is made of,
# PSDirectLoader.UnsupportedReason over System.Management.Automation's assembly version, reached
# by reflection (internal to the module's assembly). The real cmdlet only meets this pwsh.

BeforeAll {
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $assembly = [QemuGuest.Cmdlets.Remoting.NewVMGuestPSSessionCommand].Assembly
    $script:Reason = $assembly.GetType('QemuGuest.Cmdlets.Remoting.PSDirectLoader', $true).GetMethod('UnsupportedReason', [Reflection.BindingFlags] 'NonPublic, Static')
    if (-not $Reason) { throw 'PSDirectLoader.UnsupportedReason is gone: this file tests nothing without it' }
    function Get-Reason([string] $Version) { $Reason.Invoke($null, @([version] $Version, 'New-VMGuestPSSession')) }
}

Describe 'PowerShell Direct version decision' {
    It 'refuses System.Management.Automation <_> (Windows PowerShell 5.1 is 3.0) naming the version' -ForEach '3.0.0.0', '7.5.4.500' {
        $r = Get-Reason $_
        $r | Should -Not -BeNullOrEmpty
        $r | Should -BeLike "New-VMGuestPSSession needs PowerShell 7.6 or later; this is PowerShell $(([version] $_).ToString(2)).*"
    }

    It 'accepts System.Management.Automation <_>' -ForEach '7.6.0.0', '7.6.10.500', '7.7.0.0', '8.0.0.0' {
        Get-Reason $_ | Should -BeNullOrEmpty
    }

    It 'accepts the pwsh running this test, through the same function the cmdlets call' {
        $running = [psobject].Assembly.GetName().Version
        $running | Should -BeGreaterOrEqual ([version] '7.6')
        Get-Reason $running.ToString() | Should -BeNullOrEmpty
    }
}
