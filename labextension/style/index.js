import './base.css';
import './provenance.css';
import './features.css';
import './models.css';
import './jobs.css';
import './pages.css';
import './run.css';
